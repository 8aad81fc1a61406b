"""The citizens' field reports page, /reports311/ (its figures so far; the page itself is still to come). Not ``dashboards/reports``: that is the scheduled incident reports."""
