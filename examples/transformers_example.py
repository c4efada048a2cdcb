# A Hugging Face Trainer logging through ferroboard (CPU, a few seconds, nothing downloaded).
# Then: tensorboard --logdir runs
import torch
from ferroboard.integrations.transformers import TensorBoardCallback
from transformers import Trainer, TrainingArguments


class TinyClassifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden, self.out = torch.nn.Linear(8, 16), torch.nn.Linear(16, 2)

    def forward(self, x, labels=None):  # Trainer wants a dict with "loss" (and "logits")
        logits = self.out(torch.relu(self.hidden(x)))
        return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}


class RandomData(torch.utils.data.Dataset):
    def __init__(self, n):
        self.x, self.labels = torch.randn(n, 8), torch.randint(0, 2, (n,))

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "labels": self.labels[i]}


args = TrainingArguments(
    output_dir="out",
    report_to="none",  # no stock TensorBoardCallback next to ferroboard's
    num_train_epochs=2,
    per_device_train_batch_size=8,
    logging_steps=1,
    eval_strategy="epoch",
    save_strategy="no",
    use_cpu=True,
)
trainer = Trainer(
    model=TinyClassifier(),
    args=args,
    train_dataset=RandomData(64),
    eval_dataset=RandomData(32),
    callbacks=[TensorBoardCallback(log_dir="runs/tiny")],
)
trainer.train()
trainer.evaluate()  # after train(): still logged, to the same file in runs/tiny
