"""Who the employee is, and what only a verified employee may do: reset the password, unlock the
account."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions._common import read, slots, text_slot, write
from actions._sdk import (
    Action,
    ActionExecutionRejection,
    CollectingDispatcher,
    DomainDict,
    EventType,
    Tracker,
)
from actions.backend import Employee, SmsMessage, utc_now


def find_employee(session: Session, email: str | None) -> Employee | None:
    """The employee with this work email (any case), or None."""
    if email is None:
        return None
    return session.scalar(select(Employee).where(func.lower(Employee.email) == email.strip().lower()))


def code_matches(employee: Employee, code: str | None) -> bool:
    """Whether `code` (spaces ignored) is the employee's current code, compared in constant time."""
    if code is None:
        return False
    return secrets.compare_digest("".join(code.split()).encode(), employee.current_code.encode())


def verified_employee(session: Session, action: str, tracker_verified: bool, email: str | None) -> Employee:
    """The employee behind `email`, for an action only a verified employee may run.

    Raises `ActionExecutionRejection` (400) when the conversation has not verified the employee
    or the email is not in the directory.
    """
    if not tracker_verified:
        raise ActionExecutionRejection(action, "the employee has not been verified in this conversation")
    employee = find_employee(session, email)
    if employee is None:
        raise ActionExecutionRejection(action, "the employee email is not in the directory")
    return employee


class ActionVerifyEmployee(Action):
    """Checks `employee_email` and `verification_code` against the directory. Sets
    `employee_verified`, the first name (only once verified) and whether the account is locked
    (also when the code is wrong: a locked account with a failed check goes to security). An
    email that is not in the directory is not verified and has no lock state (None)."""

    def name(self) -> str:
        return "action_verify_employee"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        email, code = text_slot(tracker, "employee_email"), text_slot(tracker, "verification_code")

        def verify(session: Session) -> list[EventType]:
            employee = find_employee(session, email)
            if employee is None:
                return slots({"employee_verified": False, "employee_name": None, "account_locked": None})
            verified = code_matches(employee, code)
            return slots(
                {
                    "employee_verified": verified,
                    "employee_name": employee.first_name if verified else None,
                    "account_locked": employee.account_locked,
                }
            )

        return await read(verify)


def _temporary_password() -> str:
    return secrets.token_urlsafe(9)


def _hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"{salt.hex()}${digest.hex()}"


class ActionResetPassword(Action):
    """Sets a temporary password (stored hashed, to be changed at the next sign-in) and queues a
    text with it to the employee's registered mobile; sets `password_reset_sent`. Rejects (400)
    an employee who is not verified in this conversation or has no registered mobile."""

    def name(self) -> str:
        return "action_reset_password"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        email = text_slot(tracker, "employee_email")
        is_verified = tracker.get_slot("employee_verified") is True

        def reset(session: Session) -> list[EventType]:
            employee = verified_employee(session, self.name(), is_verified, email)
            if employee.phone is None:
                raise ActionExecutionRejection(self.name(), "the employee has no registered mobile number")
            password, now = _temporary_password(), utc_now()
            employee.temporary_password_hash = _hash_password(password)
            employee.must_change_password = True
            employee.password_reset_at = now
            session.add(
                SmsMessage(
                    phone=employee.phone,
                    body=f"Northwind IT: your temporary password is {password} - it expires in 24 hours.",
                    created_at=now,
                )
            )
            return slots({"password_reset_sent": True})

        return await write(reset)


class ActionUnlockAccount(Action):
    """Unlocks the employee's account and sets `account_locked` to False (an account that is not
    locked stays as it is). Rejects (400) an employee who is not verified in this conversation."""

    def name(self) -> str:
        return "action_unlock_account"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        email = text_slot(tracker, "employee_email")
        is_verified = tracker.get_slot("employee_verified") is True

        def unlock(session: Session) -> list[EventType]:
            employee = verified_employee(session, self.name(), is_verified, email)
            if employee.account_locked:
                employee.account_locked = False
                employee.unlocked_at = utc_now()
            return slots({"account_locked": False})

        return await write(unlock)
