-- jsonb refuses some valid JSON (\u0000, unpaired surrogates). Such an event
-- is stored with U+FFFD in their place in "payload", which the handlers read;
-- "signedPayload" keeps the exact bytes Stripe signed, and is NULL for every
-- event whose payload is those bytes already (intake/storable_payload.hpp).
ALTER TABLE "StripeWebhookEvent" ADD COLUMN "signedPayload" TEXT;
