"""The demo rows: every order, ticket, asset and email the example packs' conversation tests and
response examples mention, in states that fit them, plus a few more. Dates are relative to the
day of seeding, so a fresh database always has parcels due in the next few days.

Deliberately missing, so that look-ups really miss: order A99999, ticket INC999001 and
INC999002, asset LAPTOP-9999 and LAPTOP-9998, customer not.the.owner@example.com.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from actions.backend.helpdesk import (
    Application,
    Asset,
    Employee,
    EquipmentProfile,
    Outage,
    Service,
    SetupBooking,
    Ticket,
    TicketCategory,
    TicketState,
    Urgency,
    setup_reference,
)
from actions.backend.retail import (
    FREE_RETURN_REASONS,
    Customer,
    DeliveryStatus,
    Order,
    OrderState,
    Refund,
    RefundState,
    Return,
    return_label_url,
    return_reference,
)

# -- retail ------------------------------------------------------------------------------------

# email, name, delivery address
CUSTOMERS = [
    ("jane@example.com", "Jane Cooper", "12 Elm Grove, Leeds LS6 2AB"),
    ("sam.okoro@gmail.com", "Sam Okoro", "41 Gloucester Road, Bristol BS7 8AD"),
    ("p.nowak@outlook.com", "Piotr Nowak", "3 Canal Street, Manchester M1 3HE"),
    ("li.wei@yahoo.co.uk", "Li Wei", "88 Victoria Road, Cambridge CB4 3DZ"),
    ("tom_h@example.org", "Tom Hughes", "15 Station Lane, York YO24 1AB"),
    ("maria.g@example.com", "Maria Garcia", "22 Queen Street, Cardiff CF10 2BU"),
    ("aisha.khan@example.net", "Aisha Khan", "5 Park Terrace, Glasgow G3 6BY"),
]

_P, _S, _D, _X = OrderState.PROCESSING, OrderState.DISPATCHED, OrderState.DELIVERED, OrderState.CANCELLED
_ON, _LATE, _LOST, _DONE = (
    DeliveryStatus.ON_TIME,
    DeliveryStatus.DELAYED,
    DeliveryStatus.LOST,
    DeliveryStatus.DELIVERED,
)

# id, customer, placed (days ago), state, total, carrier, ETA (days from today), status, tracking code
ORDERS = [
    ("A12345", "jane@example.com", 12, _D, "89.00", "DPD", -6, _DONE, "15501234567"),
    ("B20417", "aisha.khan@example.net", 3, _S, "59.99", "DPD", 2, _ON, "15509876543"),
    ("C48213", "li.wei@yahoo.co.uk", 2, _P, "124.50", None, 4, None, None),
    ("D90211", "tom_h@example.org", 9, _D, "18.75", "Royal Mail", -4, _DONE, "RM123456785GB"),
    ("B77310", "maria.g@example.com", 6, _S, "45.00", "Evri", 2, _LATE, "EV1234567"),
    ("C10020", "aisha.khan@example.net", 24, _S, "132.40", "Yodel", -15, _LOST, "JJD0002249871"),
    ("B66213", "sam.okoro@gmail.com", 1, _P, "42.00", None, 5, None, None),
    ("F20087", "p.nowak@outlook.com", 4, _S, "27.50", "DPD", 1, _ON, "15503332221"),
    ("B30928", "li.wei@yahoo.co.uk", 1, _P, "249.99", None, 5, None, None),
    ("H84412", "tom_h@example.org", 1, _P, "35.00", None, 4, None, None),
    ("G20301", "maria.g@example.com", 5, _S, "74.95", "Evri", 1, _ON, "EV7654321"),
    ("A54321", "jane@example.com", 8, _X, "64.00", None, None, None, None),
    ("E11873", "jane@example.com", 0, _P, "499.00", None, 6, None, None),
    ("K12003", "sam.okoro@gmail.com", 20, _D, "45.00", "DPD", -14, _DONE, "15507770001"),
    ("B44120", "jane@example.com", 30, _D, "79.00", "Royal Mail", -25, _DONE, "RM987654321GB"),
    ("L50981", "jane@example.com", 15, _D, "54.00", "Evri", -9, _DONE, "EV2468013"),
    ("D27730", "p.nowak@outlook.com", 10, _D, "39.99", "DPD", -6, _DONE, "15504445556"),
    ("C39871", "jane@example.com", 3, _S, "19.99", "Royal Mail", 1, _ON, "RM555666777GB"),
    ("B55012", "jane@example.com", 14, _D, "32.00", "DPD", -10, _DONE, "15508889990"),
    ("J40036", "jane@example.com", 21, _D, "789.98", "DPD", -16, _DONE, "15501112223"),
]

# return number, order, product, reason, days ago
RETURNS = [
    (10102, "B44120", "office chair", "damaged", 24),
    (10231, "A12345", "denim jacket", "wrong_size", 5),
    (10388, "K12003", "running shoes", "wrong_size", 12),
    (10415, "J40036", "55-inch TV", "faulty", 14),
]

# order, state, amount, days ago. Orders with no refund row have refund state not_started.
REFUNDS = [
    ("A12345", RefundState.ISSUED, "34.99", 3),
    ("A54321", RefundState.ISSUED, "64.00", 7),
    ("K12003", RefundState.PENDING, "40.00", 6),  # the £5 delivery charge is not refunded
    ("B44120", RefundState.FAILED, "79.00", 18),
    ("J40036", RefundState.PENDING, "749.99", 4),  # over £500: billing checks it
]

_CARRIER_TRACKING = {
    "DPD": "https://track.example.com/DPD{}",
    "Royal Mail": "https://track.example.com/{}",
    "Evri": "https://track.example.com/{}",
    "Yodel": "https://track.example.com/{}",
}

# -- IT helpdesk -------------------------------------------------------------------------------

# email, first name, last name, phone, locked, current Okta Verify code
EMPLOYEES = [
    ("jane.doe@northwind.co.uk", "Jane", "Doe", "+447700900123", False, "482913"),
    ("tom.baker@northwind.co.uk", "Tom", "Baker", "+447700900456", False, "770214"),
    ("sam.jones@northwind.co.uk", "Sam", "Jones", "+447700900789", True, "903311"),
    ("priya.shah@northwind.co.uk", "Priya", "Shah", "+447700900321", False, "615204"),
    ("chris.lee@northwind.co.uk", "Chris", "Lee", None, True, "331907"),
    ("alex.morgan@northwind.co.uk", "Alex", "Morgan", "+447700900654", False, "204518"),
]

# tag, kind, make and model, assigned to
ASSETS = [
    ("LAPTOP-0042", "laptop", "Dell Latitude 7440", "jane.doe@northwind.co.uk"),
    ("LAPTOP-0043", "laptop", "Dell Latitude 7440", "tom.baker@northwind.co.uk"),
    ("MON-2231", "monitor", "Dell P2422H", "jane.doe@northwind.co.uk"),
    ("DESK-1187", "desktop", "HP EliteDesk 800", "priya.shah@northwind.co.uk"),
    ("DOCK-3307", "docking station", "Dell WD19 dock", "sam.jones@northwind.co.uk"),
    ("LAPTOP-1093", "laptop", "Lenovo ThinkPad T14", "sam.jones@northwind.co.uk"),
    ("KBD-0311", "keyboard", "Logitech MX Keys", "chris.lee@northwind.co.uk"),
    ("LAPTOP-7781", "laptop", "Dell Latitude 5440", "priya.shah@northwind.co.uk"),
    ("HEAD-0518", "headset", "Jabra Evolve2 65", "jane.doe@northwind.co.uk"),
    ("MAC-0107", "laptop", "Apple MacBook Pro 14", None),
]

_T, _C = TicketState, TicketCategory
# number, state, category, urgency, summary, ETA, assignee, caller, asset, days ago, last update
TICKETS = [
    (482910, _T.IN_PROGRESS, _C.SOFTWARE, Urgency.MEDIUM, "Outlook crashes on start", "Friday 17:00",
     "Alex Morgan", "jane.doe@northwind.co.uk", "LAPTOP-0042", 2, "Office will be repaired remotely tonight"),
    (123456, _T.RESOLVED, _C.HARDWARE, Urgency.LOW, "Cannot print to the 3rd floor printer", None,
     "Ravi Patel", "tom.baker@northwind.co.uk", None, 9, "Printer driver reinstalled"),
    (220011, _T.IN_PROGRESS, _C.VPN, Urgency.HIGH, "VPN drops every ten minutes", "tomorrow 12:00",
     "Alex Morgan", "sam.jones@northwind.co.uk", "LAPTOP-1093", 1, "Collecting GlobalProtect logs"),
    (482001, _T.ON_HOLD, _C.HARDWARE, Urgency.MEDIUM, "Docking station gives no display output",
     "next Wednesday", "Ravi Patel", "sam.jones@northwind.co.uk", "DOCK-3307", 6,
     "Waiting for a replacement dock from the supplier"),
    (330045, _T.NEW, _C.HARDWARE, Urgency.LOW, "Headset microphone not detected",
     "within 5 working days", None, "jane.doe@northwind.co.uk", "HEAD-0518", 0, None),
    (100200, _T.CLOSED, _C.ONBOARDING, Urgency.MEDIUM, "New starter setup for M. Osei", None,
     "Alex Morgan", "priya.shah@northwind.co.uk", None, 40, "Laptop handed over"),
]  # fmt: skip

# name, lower-case aliases
SERVICES = [
    ("GlobalProtect VPN", "vpn, globalprotect, remote access"),
    ("Microsoft Teams", "teams"),
    ("Microsoft Outlook", "outlook, email, mail, exchange"),
    ("Salesforce", "sfdc, crm"),
    ("Jira", ""),
    ("Confluence", "wiki"),
    ("SharePoint", "intranet"),
    ("Network", "the network, wifi, wi-fi, lan, internet"),
    ("Printing", "printer, printers, print"),
]

# service, summary, ETA, started (hours ago), resolved (hours ago, None while open)
OUTAGES = [
    ("Salesforce", "Salesforce login failures across Europe", "by 14:30", 2, None),
    ("SharePoint", "SharePoint sites load slowly for UK offices", None, 5, None),
    ("GlobalProtect VPN", "the London VPN gateway is degraded", "by 11:00", 30, 26),
]

# name, category, licences (None: no licence needed), in use, manager approval. Every application
# of the it_helpdesk pack's applications.csv is here.
APPLICATIONS = [
    ("Microsoft Teams", "collaboration", None, 0, False),
    ("Microsoft Outlook", "email", None, 0, False),
    ("Microsoft Excel", "office", None, 0, False),
    ("Microsoft Word", "office", None, 0, False),
    ("Microsoft PowerPoint", "office", None, 0, False),
    ("OneDrive", "storage", None, 0, False),
    ("SharePoint", "collaboration", None, 0, False),
    ("Slack", "collaboration", 500, 412, False),
    ("Zoom", "collaboration", 200, 187, False),
    ("Webex", "collaboration", 50, 12, False),
    ("Adobe Acrobat Reader", "office", None, 0, False),
    ("Adobe Acrobat Pro", "office", 40, 33, True),
    ("Adobe Photoshop", "design", 15, 11, True),
    ("Adobe Illustrator", "design", 10, 10, True),
    ("Figma", "design", 25, 21, True),
    ("Miro", "collaboration", 100, 64, False),
    ("Visual Studio Code", "development", None, 0, False),
    ("IntelliJ IDEA", "development", 30, 24, True),
    ("PyCharm", "development", 30, 17, True),
    ("Python", "development", None, 0, False),
    ("Git", "development", None, 0, False),
    ("Docker Desktop", "development", 40, 29, True),
    ("Postman", "development", None, 0, False),
    ("Notepad++", "utility", None, 0, False),
    ("7-Zip", "utility", None, 0, False),
    ("Snagit", "utility", 20, 8, False),
    ("Jira", "project", 300, 251, False),
    ("Confluence", "project", 300, 248, False),
    ("ServiceNow", "itsm", 60, 58, True),
    ("Salesforce", "crm", 120, 119, True),
    ("SAP GUI", "finance", 45, 40, True),
    ("Workday", "hr", None, 0, False),
    ("Tableau", "analytics", 20, 16, True),
    ("Power BI", "analytics", 80, 52, False),
    ("MATLAB", "engineering", 10, 10, True),
    ("AutoCAD", "engineering", 5, 5, True),
    ("Google Chrome", "browser", None, 0, False),
    ("Mozilla Firefox", "browser", None, 0, False),
    ("GlobalProtect VPN", "network", None, 0, False),
    ("Okta Verify", "security", None, 0, False),
]

# id, starter, start (days from today), equipment, requested by
SETUP_BOOKINGS = [
    (116, "Marcus Osei", 7, EquipmentProfile.STANDARD_LAPTOP, "priya.shah@northwind.co.uk"),
    (117, "Hannah Clarke", 14, EquipmentProfile.MAC, "alex.morgan@northwind.co.uk"),
]


def seed(session: Session, today: date) -> None:
    """Add every demo row to `session` (an empty database is expected)."""
    _seed_retail(session, today)
    _seed_helpdesk(session, today)
    session.flush()


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour))


def _seed_retail(session: Session, today: date) -> None:
    customers = {email: Customer(email=email, full_name=name) for email, name, _ in CUSTOMERS}
    addresses = {email: address for email, _, address in CUSTOMERS}
    session.add_all(customers.values())
    for order_id, email, placed, state, total, carrier, eta, status, tracking in ORDERS:
        session.add(
            Order(
                id=order_id,
                customer=customers[email],
                placed_on=today - timedelta(days=placed),
                state=state,
                total=Decimal(total),
                delivery_address=addresses[email],
                carrier=carrier,
                delivery_eta=None if eta is None else today + timedelta(days=eta),
                delivery_status=status,
                tracking_url=None
                if tracking is None or carrier is None
                else _CARRIER_TRACKING[carrier].format(tracking),
            )
        )
    session.flush()
    for number, order_id, product, reason, days_ago in RETURNS:
        session.add(
            Return(
                number=number,
                order_id=order_id,
                product=product,
                reason=reason,
                free_collection=reason in FREE_RETURN_REASONS,
                created_at=_at(today - timedelta(days=days_ago)),
                label_url=return_label_url(return_reference(number)),
            )
        )
    for order_id, refund_state, amount, days_ago in REFUNDS:
        session.add(
            Refund(
                order_id=order_id,
                state=refund_state,
                amount=Decimal(amount),
                created_at=_at(today - timedelta(days=days_ago)),
            )
        )


def _seed_helpdesk(session: Session, today: date) -> None:
    employees = {
        email: Employee(
            email=email,
            first_name=first,
            last_name=last,
            phone=phone,
            account_locked=locked,
            current_code=code,
        )
        for email, first, last, phone, locked, code in EMPLOYEES
    }
    session.add_all(employees.values())
    for tag, kind, model, owner in ASSETS:
        session.add(Asset(tag=tag, kind=kind, model=model, assigned_to=employees.get(owner or "")))
    session.flush()
    for number, state, category, urgency, summary, eta, assignee, caller, asset, days_ago, update in TICKETS:
        session.add(
            Ticket(
                number=number,
                state=state,
                category=category,
                urgency=urgency,
                summary=summary,
                description=summary,
                eta=eta,
                assignee=assignee,
                caller_email=caller,
                asset_tag=asset,
                opened_at=_at(today - timedelta(days=days_ago), 10),
                last_update=update,
            )
        )
    services = {name: Service(name=name, aliases=aliases) for name, aliases in SERVICES}
    session.add_all(services.values())
    now = _at(today, 12)
    for service, summary, eta, started, resolved in OUTAGES:
        session.add(
            Outage(
                service=services[service],
                summary=summary,
                eta=eta,
                started_at=now - timedelta(hours=started),
                resolved_at=None if resolved is None else now - timedelta(hours=resolved),
            )
        )
    for name, app_category, total, used, approval in APPLICATIONS:
        session.add(
            Application(
                name=name,
                category=app_category,
                licences_total=total,
                licences_used=used,
                approval_required=approval,
            )
        )
    for booking_id, starter, start_in, profile, requested_by in SETUP_BOOKINGS:
        start = today + timedelta(days=start_in)
        session.add(
            SetupBooking(
                id=booking_id,
                reference=setup_reference(start, booking_id),
                starter_name=starter,
                start_date=start,
                equipment_profile=profile,
                requested_by=requested_by,
                created_at=_at(today - timedelta(days=3)),
            )
        )
