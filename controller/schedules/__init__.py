"""Each home-schooled pupil's individual lesson schedule (DOMAIN.md), and what each kit gets of it.

`model` is the pure core (terms, weekly slots, exceptions, expansion to UTC lessons, validation);
`csv_format` and `ics_format` read a school's files into it; `service` stores versions, approves
and answers for pupils and kits. See README.md in this folder.
"""

from controller.schedules.tables import ScheduleVersion as ScheduleVersion  # the table
