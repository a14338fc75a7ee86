"""spanscope terminal faces: the `spanscope` command line and the Textual app."""
