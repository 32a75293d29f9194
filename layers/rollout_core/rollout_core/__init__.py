"""sagemaker-rollout core: the rollout domain (pure) and its AWS adapters."""
