"""The search engine shared by every surface: query language, inverted index, ranking."""
