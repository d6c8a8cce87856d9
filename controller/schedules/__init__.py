"""Each home-schooled pupil's individual lesson schedule (DOMAIN.md), and what each kit gets of it.

`model` is the pure content (terms, weekly slots, exceptions, approval), `expansion` its lessons
in UTC, `validation` what is wrong with it; `csv_format` and `ics_format` read a school's files
into it; `versions` stores them, `kits` says what each kit gets, and `service` is the front door
the API, the command line and other domains call. See README.md in this folder.
"""

from controller.schedules.tables import ScheduleVersion as ScheduleVersion  # the table
