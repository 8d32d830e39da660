"""Forms of the account and ICP pages: input parsing only; services do the writing."""

from django import forms


class AccountSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search accounts")


class IcpSignOffForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "Note (needed to reject)"}),
    )
