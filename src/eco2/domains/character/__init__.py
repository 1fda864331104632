"""character: the 13-character catalog and what each user has collected."""
