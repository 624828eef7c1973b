"""Generated from proto/roadroller/v1 by scripts/generate-clients. Do not edit."""
