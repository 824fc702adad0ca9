"""REST API v1: routes, request and response models, serializers, the request path (service), the result
cache, errors and the generated OpenAPI document."""
