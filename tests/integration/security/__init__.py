# The one browser origin the security suite's api allows (CORS_ALLOWED_ORIGINS).
ALLOWED_ORIGIN = "https://game.example"
