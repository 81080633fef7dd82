"""Pure rules of the reports service: the credit view, 专项 statements and batch-check answers."""
