-- The working-day calendar's year tables and the store of citizens' materials (申请材料): files kept
-- in PostgreSQL (in the same transactions and the same backup as the cases that use them).

-- == Working-day calendar =========================================================================
-- One year's schedule as loaded by `tongban calendar load` (docs/cases.md, "The calendar"); a loaded
-- year takes precedence over the chinese-calendar package's. A year with neither is estimated.
CREATE TABLE calendar_years (
    year      integer PRIMARY KEY CHECK (year BETWEEN 1949 AND 2200),
    source    text NOT NULL CHECK (source <> ''),
    loaded_at timestamptz NOT NULL DEFAULT now(),
    loaded_by text NOT NULL
);

-- `holiday`: a day off (any day of a holiday period); `working`: a Saturday or Sunday worked (调休).
CREATE TABLE calendar_days (
    day  date PRIMARY KEY,
    year integer NOT NULL REFERENCES calendar_years (year) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('holiday', 'working')),
    name text NOT NULL DEFAULT '',
    CHECK (extract(year FROM day) = year),
    CHECK (kind = 'holiday' OR extract(isodow FROM day) IN (6, 7))
);
CREATE INDEX calendar_days_year ON calendar_days (year);

-- == Materials ====================================================================================
-- A file's bytes, AES-GCM encrypted under the personal-data key. The address is a keyed hash (HMAC)
-- of the owner and the file's SHA-256, so one citizen's identical uploads share a row while the same
-- file uploaded by two citizens gives two unrelated addresses (nothing shows they are equal).
CREATE TABLE blobs (
    address    bytea PRIMARY KEY CHECK (octet_length(address) = 32),
    sealed     bytea NOT NULL,
    size_bytes integer NOT NULL CHECK (size_bytes > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
-- Ciphertext does not compress: store it out of line without trying.
ALTER TABLE blobs ALTER COLUMN sealed SET STORAGE EXTERNAL;

-- One uploaded material of a citizen, checked (type sniffed from the content, PDF structure, picture
-- pixel limits) and cleaned (EXIF and other metadata removed) before it was stored. `name` is the file
-- name as sent, `kind` the receipt standard's material name it was uploaded as (if said). `digest` is
-- the SHA-256 of the stored bytes, as the signed hand-over records name it. A material is the
-- citizen's: a later case may reuse it; the same file uploaded again is the same material.
CREATE TABLE materials (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_citizen_id uuid NOT NULL REFERENCES citizens (id),
    name             text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    kind             text CHECK (char_length(kind) BETWEEN 1 AND 100),
    content_type     text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'application/pdf')),
    size             integer NOT NULL CHECK (size > 0),
    digest           bytea NOT NULL CHECK (octet_length(digest) = 32),
    pages            integer CHECK (pages > 0),
    width            integer CHECK (width > 0),
    height           integer CHECK (height > 0),
    blob_address     bytea NOT NULL REFERENCES blobs (address),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner_citizen_id, blob_address)
);
CREATE INDEX materials_owner ON materials (owner_citizen_id, created_at DESC);
