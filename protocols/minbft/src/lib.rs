//! MinBFT (skeleton; being written).
#![no_std]
