"""Adapters: carry out the core's actions and gather its observations with boto3."""
