"""Small neural vocoders and a neural codec, trained here on CPU, for copy-synthesis with real fingerprints.

Families (see docs/vocoders.md): ``melgan`` (transposed conv + dilated residual stacks, multi-scale
discriminator), ``hifigan`` (transposed conv + multi-receptive-field fusion, multi-period discriminator),
``upsample-conv`` (nearest upsampling + conv), ``subpixel`` (1-D pixel shuffle), ``istft`` (Vocos-style
magnitude + phase head and inverse STFT) and ``codec-rvq`` (strided-conv autoencoder with a residual vector
quantiser; systems ``codec-rvq-2/4/8`` use 2, 4 or 8 stages) and ``snake-vae`` (a Snake-activated
waveform VAE, the decoder of latent-diffusion music models). Input: 80-band log-mel, 1024-point FFT, hop
256 at 16 kHz (the codec: the waveform, 320 samples per code frame; the VAE: the waveform, 512).

:func:`train_vocoder` writes one checkpoint per family; :class:`NeuralVocoderSystem` resynthesises through it.
"""

from unmask.data.synthesize.vocoders.families import (
    CODEC_SYSTEMS,
    FAMILIES,
    build_model,
    default_config,
    family_names,
)
from unmask.data.synthesize.vocoders.system import (
    NeuralVocoderSystem,
    checkpoint_path,
    neural_system_names,
    system_family,
    trained_systems,
)
from unmask.data.synthesize.vocoders.training import (
    TrainingReport,
    TrainSettings,
    count_parameters,
    load_checkpoint,
    load_training_audio,
    load_vocoder,
    mel_l1,
    partial_path,
    train_vocoder,
)

__all__ = [
    "CODEC_SYSTEMS",
    "FAMILIES",
    "NeuralVocoderSystem",
    "TrainSettings",
    "TrainingReport",
    "build_model",
    "checkpoint_path",
    "count_parameters",
    "default_config",
    "family_names",
    "load_checkpoint",
    "load_training_audio",
    "load_vocoder",
    "mel_l1",
    "neural_system_names",
    "partial_path",
    "system_family",
    "train_vocoder",
    "trained_systems",
]
