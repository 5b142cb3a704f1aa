-- Face verification: one enrolled reference per citizen, and photos kept for disputes only when the
-- operator configures a retention period (by default nothing is kept).

-- The reference embedding is AES-GCM encrypted, bound to the citizen and the model by associated
-- data; the photo it came from is never stored.
CREATE TABLE face_enrolments (
    citizen_id          uuid PRIMARY KEY REFERENCES citizens (id) ON DELETE CASCADE,
    template_enc        bytea NOT NULL,
    model               text NOT NULL,
    source              text NOT NULL CHECK (source IN ('service_window')),
    quality             jsonb NOT NULL,
    enrolled_by         uuid NOT NULL REFERENCES staff (id),
    enrolled_division   char(6) NOT NULL,
    enrolled_at         timestamptz NOT NULL DEFAULT now(),
    last_verified_at    timestamptz,
    last_verified_level text CHECK (last_verified_level IN ('L2', 'L3'))
);

CREATE TABLE face_retained_photos (
    id           bigserial PRIMARY KEY,
    citizen_id   uuid NOT NULL REFERENCES citizens (id) ON DELETE CASCADE,
    request_id   text,
    check_kind   text NOT NULL CHECK (check_kind IN ('photo', 'liveness')),
    frame        smallint NOT NULL,
    photo_enc    bytea NOT NULL,
    retain_until timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX face_retained_photos_until ON face_retained_photos (retain_until);
CREATE INDEX face_retained_photos_citizen ON face_retained_photos (citizen_id);
