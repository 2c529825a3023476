"""Real datasets: DHSD (download, checksums, labels) and IAM (checking a download, its standard split)."""
