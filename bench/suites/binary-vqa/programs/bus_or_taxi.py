def execute_command(image, my_fig, time_wait_between_lines, syntax):
    # Question: Is there a sign that says BUS or TAXI?
    image_patch = ImagePatch(image)
    sign_patches = image_patch.find("sign")
    for sign_patch in sign_patches:
        text = sign_patch.simple_query("What does the sign say?")
        if text in ["BUS", "TAXI"]:
            return "yes"
        if len(text) in [3, 4]:
            # short words are often misread: let the matcher pick among close words
            best = sign_patch.best_text_match(["BUS", "TAXI", text])
            if best != text:
                return "yes"
    return "no"
