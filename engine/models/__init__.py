"""Loading the networks: Stable Diffusion 2-1 parts, DINOv2, and the truncated UNet forward."""
