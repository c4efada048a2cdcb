# A Lightning Trainer logging through ferroboard (CPU, a few seconds, nothing downloaded).
# Then: tensorboard --logdir logs
import lightning.pytorch as L
import torch
from ferroboard.integrations.lightning import TensorBoardLogger
from lightning.pytorch.callbacks import LearningRateMonitor


class Regressor(L.LightningModule):
    def __init__(self, lr=0.1, hidden=16):
        super().__init__()
        self.save_hyperparameters()  # logged to the HParams tab, with hp_metric
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )
        self.example_input_array = torch.zeros(1, 4)  # for log_graph=True

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self(x), y)
        self.log("train/loss", loss)
        self.log("hp_metric", loss, on_step=False, on_epoch=True)
        return loss

    def on_train_epoch_end(self):
        # logger.experiment is a ferroboard.SummaryWriter: every add_* method works
        writer = self.logger.experiment
        writer.add_histogram("weights/first", self.net[0].weight, self.current_epoch)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
        return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)]


x = torch.randn(256, 4)
data = torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))
trainer = L.Trainer(
    max_epochs=3,
    logger=TensorBoardLogger("logs", name="regressor", log_graph=True),  # logs/regressor/version_0
    callbacks=[LearningRateMonitor()],
    log_every_n_steps=4,
    accelerator="cpu",
)
trainer.fit(Regressor(), torch.utils.data.DataLoader(data, batch_size=32))
