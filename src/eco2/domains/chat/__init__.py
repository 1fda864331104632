"""Chat: a multi-turn Korean recycling assistant with streamed answers."""
