from django import forms

from projects.forms import StyledForm


class CompareForm(StyledForm):
    a = forms.IntegerField(label="Version")
    b = forms.IntegerField(label="against")
