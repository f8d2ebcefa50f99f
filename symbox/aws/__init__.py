"""AWS access: long-lived clients, Identity Center and IAM, and AWS errors classified."""
