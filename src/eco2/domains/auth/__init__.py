"""auth: social sign-in (Kakao, Google, Naver), session tokens, JWKS."""
