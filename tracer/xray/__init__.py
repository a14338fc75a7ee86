"""X-Ray output without the retiring SDK: segment documents and the daemon UDP protocol."""
