-- Extensions live in schema extensions, never in public: Supabase installs them there, and an
-- extension in public would put its functions in the API schema and in every dump of public.
-- pgcrypto: gen_random_bytes() for OAuth states (16_oauth_states.sql).
create extension if not exists pgcrypto with schema extensions;
