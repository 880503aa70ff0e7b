"""Deployment: export to .keras / SavedModel / ONNX with parity checks, and forecasting from an export."""
