"""Root conftest: its presence puts the checkout on sys.path, so tests import engine/ and portal/."""
