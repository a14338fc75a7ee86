"""Integrations: Lambda, Lambda@Edge, Batch, EMR/MapReduce, Greengrass edge, HPC ranks, SQS and Step Functions."""
