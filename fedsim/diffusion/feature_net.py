"""The feature extractor of the Frechet distance: a `classify` CNN trained centrally.

Trained once per data set on the whole training split (Adam, one epoch, seeded) and
cached under the fedsim cache folder (`fedsim.cache`), so every run on that data set
measures with the same network. Its penultimate (64-d) features embed images; its logits
classify generated images of a conditional model.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from fedsim.cache import cache_dir, save_npz_atomic
from fedsim.data import FederatedData
from fedsim.models.cnn import SmallCNN
from fedsim.tasks.inference import batched

RECIPE = "cnn16-adam1e-3-b128-e1-v1"  # change it when the recipe below changes
EPOCHS, BATCH, LR, WIDTH, SEED = 1, 128, 1e-3, 16, 0


def _train(data: FederatedData) -> SmallCNN:
    """A SmallCNN trained centrally on `data.train` (its own seeded RNG streams)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = SmallCNN(data.image_shape, data.num_classes, WIDTH)
    generator = torch.Generator().manual_seed(SEED)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    x, y = torch.tensor(data.train.x), torch.tensor(data.train.y)
    model.train()
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(x), generator=generator).split(BATCH):
            optimizer.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            optimizer.step()
    return model.eval()


def _accuracy(model: SmallCNN, x: np.ndarray, y: np.ndarray) -> float:
    logits = batched(model, x, torch.device("cpu"))
    return float((logits.argmax(1).numpy() == y).mean()) if len(y) else float("nan")


def feature_classifier(data: FederatedData) -> tuple[SmallCNN, float]:
    """(the cached classifier of `data.name`, its test accuracy); trains it on first use."""
    path = cache_dir() / "frechet" / f"{data.name}-{RECIPE}.npz"
    with torch.random.fork_rng(devices=[]):
        model = SmallCNN(data.image_shape, data.num_classes, WIDTH)
    if path.is_file():
        stored = np.load(path)
        model.load_state_dict({k: torch.from_numpy(stored[k]) for k in model.state_dict()})
        return model.eval(), float(stored["__test_accuracy__"])
    model = _train(data)
    accuracy = _accuracy(model, data.test.x, data.test.y)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    save_npz_atomic(path, **arrays, __test_accuracy__=np.float64(accuracy))
    return model, accuracy
