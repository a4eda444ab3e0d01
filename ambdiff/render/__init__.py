"""Everything a person or a script reads: the one home of rich."""
