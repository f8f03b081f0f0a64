-- A treatment record written by the sqlite3 code before the record moved to SQLAlchemy and Alembic (main at
-- f009a89: two sessions of one device, a visit, shots with an unreceived range split by a late shot, an alarm, a
-- note, an anomaly, a between-sessions entry and an alarm found at a connect), dumped with sqlite3's iterdump.
-- tests/mesogun/record/test_migrations.py loads it and opens it with the current code.
BEGIN TRANSACTION;
CREATE TABLE alarms_found (  -- alarms latched on the device at a connect, never seen raised
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    ts TEXT NOT NULL,                 -- host wall time (UTC) of the connect that found it
    code TEXT NOT NULL,
    priority TEXT NOT NULL,
    device_time_ms INTEGER,           -- when the device raised it, if the device reports that (else NULL)
    note TEXT NOT NULL
);
INSERT INTO "alarms_found" VALUES(1,3,'2026-12-01T15:06:25.078+00:00','communication_lost','high',NULL,'raised while no host was connected: active on the device at the connect, which does not say when it was raised');
CREATE TABLE anomalies (  -- what the record refused to believe (e.g. a counter jump)
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
INSERT INTO "anomalies" VALUES(1,1,'2026-12-01T15:06:25.075+00:00','counter_jump','device SN1 counter went from 6 to 6000000 (+5999994), more than 20000 shots unseen is implausible: not entered as unreceived shots');
CREATE TABLE devices (
    serial TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL,
    baseline_lifetime INTEGER NOT NULL, -- the device's lifetime counter when this epoch began
    reconciled_to INTEGER NOT NULL,     -- every index up to this one is on record (received or not)
    epoch INTEGER NOT NULL DEFAULT 0,   -- bumped when the device's counter was reset (a new counter epoch)
    hardware_id TEXT,                   -- the board this epoch was counted on (identity.hardware_id)
    counter_epoch INTEGER               -- the device's own id of this epoch (identity.counter_epoch)
);
INSERT INTO "devices" VALUES('SN1','2026-12-01T15:06:25.067+00:00',0,6000003,0,'ab12',7);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    ts TEXT NOT NULL,
    direction TEXT NOT NULL,          -- 'host' (command) or 'device' (reply or event)
    type TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL                -- the message's JSON form
);
INSERT INTO "events" VALUES(1,1,'2026-12-01T15:06:25.068+00:00','host','fire',8,'{"type": "fire", "seq": 8, "count": 5}');
INSERT INTO "events" VALUES(2,1,'2026-12-01T15:06:25.069+00:00','device','ack',8,'{"type": "ack", "seq": 8, "command": "fire", "count": 5}');
INSERT INTO "events" VALUES(3,1,'2026-12-01T15:06:25.070+00:00','device','shot',1,'{"type": "shot", "seq": 1, "shot_index": 1, "fire_seq": 8, "depth_um": 2500, "dose_nl": 50000, "device_time_ms": 1, "source": "remote", "host_id": 0, "partial": false, "delivered_nl": 0}');
INSERT INTO "events" VALUES(4,1,'2026-12-01T15:06:25.071+00:00','device','shot',2,'{"type": "shot", "seq": 2, "shot_index": 2, "fire_seq": 8, "depth_um": 2500, "dose_nl": 50000, "device_time_ms": 2, "source": "remote", "host_id": 0, "partial": true, "delivered_nl": 21000}');
INSERT INTO "events" VALUES(5,1,'2026-12-01T15:06:25.072+00:00','device','shot',4,'{"type": "shot", "seq": 4, "shot_index": 4, "fire_seq": 8, "depth_um": 2500, "dose_nl": 50000, "device_time_ms": 4, "source": "remote", "host_id": 0, "partial": false, "delivered_nl": 0}');
INSERT INTO "events" VALUES(6,1,'2026-12-01T15:06:25.074+00:00','device','alarm',9,'{"type": "alarm", "seq": 9, "code": "occlusion", "priority": "high", "raised": true, "device_time_ms": 77}');
CREATE TABLE notes (  -- what the operator said: a soft-limit override and its reason
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,               -- e.g. 'soft_limit_override'
    detail TEXT NOT NULL,             -- what was done, naming the value and the limit
    reason TEXT NOT NULL              -- why, in the operator's words
);
INSERT INTO "notes" VALUES(1,1,'2026-12-01T15:06:25.074+00:00','soft_limit_override','depth 4.5 mm above the soft limit 4.0 mm','deep dermis, as planned');
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    device_serial TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    firmware_version TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    started TEXT NOT NULL,
    ended TEXT,
    kind TEXT NOT NULL DEFAULT 'treatment', -- 'treatment' (a host connected) or 'between_sessions' (none was)
    hardware_id TEXT,                 -- the board connected (identity.hardware_id; NULL: not reported)
    counter_epoch INTEGER,            -- its lifetime counter's epoch id then (identity.counter_epoch)
    host_id INTEGER                   -- the host id this host said hello with (NULL: not known)
, visit_id INTEGER REFERENCES visits(id));
INSERT INTO "sessions" VALUES(1,'SN1','MG-1','1.0.0','sim://','2026-12-01T15:06:25.066+00:00','2026-12-01T15:06:25.076+00:00','treatment','ab12',7,42,1);
INSERT INTO "sessions" VALUES(2,'SN1','MG-1','1.0.0','sim://','2026-12-01T15:06:25.076+00:00','2026-12-01T15:06:25.079+00:00','treatment','ab12',7,42,NULL);
INSERT INTO "sessions" VALUES(3,'SN1','','','','2026-12-01T15:06:25.076+00:00','2026-12-01T15:06:25.076+00:00','between_sessions',NULL,NULL,NULL,NULL);
CREATE TABLE shots (
    device_serial TEXT NOT NULL,
    epoch INTEGER NOT NULL,           -- the device's counter epoch: (serial, epoch, index) names one shot
    shot_index INTEGER NOT NULL,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    received INTEGER NOT NULL,        -- 1: the shot event reached the host; 0: counted by the device only
    ts TEXT NOT NULL,
    fire_seq INTEGER,
    depth_um INTEGER,
    dose_nl INTEGER,
    device_time_ms INTEGER,
    recovered INTEGER NOT NULL DEFAULT 0, -- 1: the details were read back from the device's shot log
    source TEXT,                      -- what fired it: trigger, pedal or remote (NULL: unreceived, or an old record)
    partial INTEGER,                  -- 1: a stroke cut short by an alarm (a partial shot), 0 a whole one
    delivered_nl INTEGER,             -- the device's estimate of what left: dose_nl for a whole shot
    host_id INTEGER,                  -- the host id the device stamped on it (0: no session; NULL: not known)
    other_host INTEGER NOT NULL DEFAULT 0, -- 1: fired by another host's session (not this record's host)
    PRIMARY KEY (device_serial, epoch, shot_index)
);
INSERT INTO "shots" VALUES('SN1',0,1,1,1,'2026-12-01T15:06:25.070+00:00',8,2500,50000,1,0,'remote',0,50000,0,0);
INSERT INTO "shots" VALUES('SN1',0,2,1,1,'2026-12-01T15:06:25.071+00:00',8,2500,50000,2,0,'remote',1,21000,0,0);
INSERT INTO "shots" VALUES('SN1',0,4,1,1,'2026-12-01T15:06:25.072+00:00',8,2500,50000,4,0,'remote',0,50000,0,0);
CREATE TABLE unreceived (  -- shots first..last the device counted, whose events never arrived
    device_serial TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    ts TEXT NOT NULL,
    beyond_log INTEGER NOT NULL DEFAULT 0, -- 1: older than the device's shot log window: details lost for good
    PRIMARY KEY (device_serial, epoch, first)
);
INSERT INTO "unreceived" VALUES('SN1',0,3,3,1,'2026-12-01T15:06:25.072+00:00',0);
INSERT INTO "unreceived" VALUES('SN1',0,5,6,1,'2026-12-01T15:06:25.072+00:00',0);
INSERT INTO "unreceived" VALUES('SN1',0,6000001,6000003,3,'2026-12-01T15:06:25.077+00:00',0);
CREATE TABLE visits (  -- a treatment session as a clinic means it: opened and closed explicitly
    id INTEGER PRIMARY KEY,
    device_serial TEXT NOT NULL,
    opened TEXT NOT NULL,
    closed TEXT,
    opened_by TEXT NOT NULL DEFAULT '',
    closed_by TEXT,
    note TEXT NOT NULL DEFAULT ''
);
INSERT INTO "visits" VALUES(1,'SN1','2026-12-01T15:06:25.065+00:00','2026-12-01T15:06:25.079+00:00','dr-a','dr-a','left cheek');
CREATE INDEX shots_by_session ON shots(session_id);
CREATE INDEX events_by_session ON events(session_id);
CREATE INDEX unreceived_by_session ON unreceived(session_id);
CREATE VIEW all_shots AS  -- every shot, received or not, one row each (ranges expanded)
WITH RECURSIVE expanded(device_serial, epoch, shot_index, last, session_id, ts) AS (
    SELECT device_serial, epoch, first, last, session_id, ts FROM unreceived
    UNION ALL
    SELECT device_serial, epoch, shot_index + 1, last, session_id, ts FROM expanded WHERE shot_index < last
)
SELECT device_serial, epoch, shot_index, session_id, received, ts, fire_seq, depth_um, dose_nl, device_time_ms
FROM shots
UNION ALL
SELECT device_serial, epoch, shot_index, session_id, 0, ts, NULL, NULL, NULL, NULL FROM expanded;
COMMIT;
