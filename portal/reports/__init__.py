"""What a clinician takes away from one sample: the facts a report states (sample_facts), laid out as a PDF
and as a FHIR R4 bundle. The builders take the same SampleFacts, made from a run on the portal or from a file
on the command line."""
