"""The press feed's intake: RSS/Atom/RDF polling, article pages, Vietnamese text understanding."""
