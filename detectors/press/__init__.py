"""The press feed's rules: stories across outlets, spreading, bursts on topics and places."""
