"""info: item search and the taxonomy over HTTP, straight from the knowledge library
(``eco2.knowledge``). Public: the same for everyone, no user data."""
