"""Pages of the operations centre (Dash): the wall and its shared components."""
