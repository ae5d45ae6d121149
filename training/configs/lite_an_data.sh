#!/bin/bash
# Issue 12, fourth and fifth runs: the training data (closed-form per-frame IK, the lite default;
# fifth run: regenerated after BlazePose's video-mode tracking was made mediapipe's; sixth run: regenerated
# with the half-aimed closed-form IK, --ik-aim 0.5, the default).
# Held out: walk, kick, dance_a, cmu_01_01_c (closed-loop tests); dance_b is validation.
set -e
cd "$(dirname "$0")/../.."
D=${DATA:-runs/an/data}  # DATA=... to write elsewhere
# EXTRA=--landmark-embedding: the landmark network's feature map in H as well (docs/training.md)
TRAIN=backflip,cartwheel,crawl,getup_facedown,getup_faceup,jump,punch,roll,run,spin,spinkick
C=cmu_01_01_a,cmu_01_01_b,cmu_01_03_a,cmu_01_03_b,cmu_01_03_c,cmu_01_03_d,cmu_01_03_e
P="--no-progress ${EXTRA:-}"
stmocap train-data --out $D/val.npz  --views 1 --first-seed 50000 --max-frames 60 --clips dance_b $P
stmocap train-data --out $D/val2.npz --views 2 --first-seed 51000 --fov-jitter 10 --clips dance_b $P
stmocap train-data --out $D/train_a.npz --views 2 --first-seed 100 --max-frames 30 --clips $TRAIN $P
stmocap train-data --out $D/cmu_a.npz --views 2 --first-seed 60000 --fov-jitter 10 --max-frames 120 --clips $C $P
stmocap train-data --out $D/train_b.npz --views 1 --first-seed 20000 --max-frames 30 --occluders 1 --background plain --clips $TRAIN $P
stmocap train-data --out $D/cmu_b.npz --views 1 --first-seed 61000 --max-frames 120 --occluders 1 --background plain --clips $C $P
stmocap train-data --out $D/train_c.npz --views 4 --first-seed 30000 --fov-jitter 10 --clips $TRAIN $P
stmocap train-data --out $D/cmu_c.npz --views 2 --first-seed 62000 --fov-jitter 10 --clips $C $P
