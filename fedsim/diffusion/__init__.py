"""DDPM building blocks: noise schedule, denoising loss, samplers, Frechet distance, grids.

Roles as in diffusers: the network predicts noise (`fedsim.models.unet`), the schedule
(`schedule`) owns the constants and the forward process, the samplers (`sampling`) are short
loops over diffusers' DDPMScheduler / DDIMScheduler. Schedule constants live outside the
model, so they are never in its state_dict and never cross the wire.
"""
