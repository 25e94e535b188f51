-- Extensions live in schema extensions, never in public: Supabase installs them there, and an
-- extension in public would put its functions in the API schema and in every dump of public.
-- pgcrypto: gen_random_bytes(), hmac() and crypt() for later migrations.
create extension if not exists pgcrypto with schema extensions;
