
BoutputJ(‹«JÁR2PAŠØ‡¿Rš«ÀxWÁ¦¿À©JÇ¿œvÁIBÍÀ¼ì›À