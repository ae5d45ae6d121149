"""The paper's temporal network: STA aggregation, coarse regressor, LSTM residual refinement."""
