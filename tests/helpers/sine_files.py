"""The SHA-256 of the four CSV files of the seed's sine data, recorded when first written.

np.random.RandomState(42), 1000 then 100 points, np.savetxt (zeronet.data.sine).
"""

SINE_SHA256 = {
    "x_train.csv": "5b32ec4576c39f9baef7c0a139bb59905948b47c64f3dd78fe412f309ce508a9",
    "y_train.csv": "92cc668731e373b5d00af568a00a618b37ad28d4ff1a889472195d8254bd91e4",
    "x_test.csv": "1ba3ab1e51fceb7144b90dadcbe488ce2d27460c8ff0f7f942c40bffbe4dca61",
    "y_test.csv": "4eb0874390f2a8fa1cd5248ae411282d47566c94c834d385f85ea564b139bce9",
}
