from django.contrib import admin

admin.site.site_header = "Stepwise administration"
admin.site.site_title = "Stepwise admin"
admin.site.index_title = "Administration"
