"""The talk catalog: models, storage, importers and the search engine every surface shares."""
