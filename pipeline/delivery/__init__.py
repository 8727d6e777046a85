"""What goes out: every output verified, the QC verdict, the sidecars and report, checksums,
and the one rename that publishes a delivery."""
