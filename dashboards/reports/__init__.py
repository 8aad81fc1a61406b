"""The citizens' field reports page (its figures so far; the page itself is still to come)."""
