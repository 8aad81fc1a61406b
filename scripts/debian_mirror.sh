# shellcheck shell=bash
# Sourced by scripts that fetch Debian source packages through a private apt source list:
# find_mirror prints the mirror URI of the system's bookworm entry, read at run time, so no
# mirror host is ever written into a file of the project.

find_mirror() {
    local f=/etc/apt/sources.list.d/debian.sources
    if [[ -r $f ]]; then
        # deb822: paragraphs separated by blank lines; pick the first URI of the
        # first paragraph whose Suites field contains the word "bookworm".
        awk '
            function flush() {
                if (suites ~ /(^|[ \t])bookworm([ \t]|$)/ && uri != "" && !done) { print uri; done = 1 }
                suites = ""; uri = ""
            }
            /^[ \t]*$/        { flush(); next }
            /^[ \t]*#/        { next }
            tolower($1) == "suites:" { suites = $0; sub(/^[^:]*:/, "", suites) }
            tolower($1) == "uris:"   { uri = $2 }
            END { flush() }
        ' "$f"
    fi
    if [[ -r /etc/apt/sources.list ]]; then
        # one-line format: deb [opts] URI SUITE COMPONENTS...
        awk '
            $1 == "deb" || $1 == "deb-src" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
                if ($(i + 1) == "bookworm") { print $i; exit }
            }
        ' /etc/apt/sources.list
    fi
}
