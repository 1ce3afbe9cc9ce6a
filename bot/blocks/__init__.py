"""Every Block Kit payload talkbot sends, built in this package and nowhere else, within Slack's limits and with
catalog text escaped: base.py holds the pieces (limits, action ids, escaping, a talk's card and buttons), the other
modules one surface each (messages, digest, for_you, home, modal, follows).

Private (ephemeral) messages carry their own state in the button values, so any button can redraw the message in
place: a `Screen` says what the message shows (a search page, talks like one talk, the saved or watched list, For you).
"""
