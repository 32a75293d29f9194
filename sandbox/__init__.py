"""The local rehearsal: the stack's handlers in-process against moto, no AWS account."""
